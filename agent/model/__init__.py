"""The model behind a small interface, the Anthropic Messages API adapter, and pricing."""
