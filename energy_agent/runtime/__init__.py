"""The running agent: its devices, its state, the mode in force, and the tasks that keep them."""
