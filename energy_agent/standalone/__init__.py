"""Standalone mode: the agent plans on its own from prices, under the owner's cap.

`unique_levels` is the default policy (the proposal's rule) and `ready_by` the energy-by-departure policy
(with `ready_by_days`, `departure` and `charge_need`), both registered like any plugin's through `plugin`;
`planner` turns prices into a schedule per device; `report` draws a plan for people.
"""
