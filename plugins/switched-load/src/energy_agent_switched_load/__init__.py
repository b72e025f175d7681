"""energy-agent plugin for switched loads: on/off devices driven through Home Assistant or MQTT."""
