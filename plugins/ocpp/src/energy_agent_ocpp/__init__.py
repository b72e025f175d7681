"""energy-agent plugin: the agent as an OCPP 1.6J central system; chargers hold the plan as a charging profile."""
