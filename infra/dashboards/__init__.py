"""The fleet dashboard: one Lakeview template, deployed by the stacks and rendered locally by the demo."""
