"""An example energy-agent device plugin: a template to copy and rename."""
