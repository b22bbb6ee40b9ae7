"""Operating pitcrew as a service: rollout control, SLA alerts, the daily digest and the dashboard page."""
