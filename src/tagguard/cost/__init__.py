"""What a change and a team cost: budgets, the cost diff between two scans, showback."""
