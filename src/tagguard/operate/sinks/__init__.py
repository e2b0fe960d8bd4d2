"""Where alerts go: Slack (Block Kit), Microsoft Teams (Adaptive Card), a generic JSON webhook, GitHub issues."""
