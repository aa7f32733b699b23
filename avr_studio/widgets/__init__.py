"""Qt widgets: each takes its view-models, subscribes to their signals and writes user input back."""
