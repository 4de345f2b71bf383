"""The harness's test kit: a scripted model, an injected clock, and the Messages API's request rules."""
