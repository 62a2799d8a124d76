"""Monitoring: alert rules and detectors, the alert lifecycle, notifiers, the scheduler and live order events.

Kept light on import: the config models are read by ``channelscope.config`` at every load.
"""
