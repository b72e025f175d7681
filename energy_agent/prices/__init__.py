"""Prices: the sources that fetch day-ahead curves and the board that keeps the last good one."""
