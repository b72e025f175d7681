"""MQTT: the agent's one broker connection (`bus`) and the request/answer client of the CLI (`request`).

The only package that touches paho and aiomqtt directly.
"""
