"""Plans that follow from the analyses: stored forecasts, suggested targets and the inventory plan."""
