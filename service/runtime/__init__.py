"""Long-lived resources the rewards run on: the killable worker pool, the sandboxes, the reward models."""
