"""HEMS mode: the commands a HEMS sends over MQTT, how they are validated, applied and answered."""
