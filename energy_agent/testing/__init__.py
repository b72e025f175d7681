"""Test support for the core's and plugins' tests: a manual clock, an embedded broker, sample prices."""
