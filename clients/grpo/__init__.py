"""The bundled GRPO trainer: `referee train --config CONFIG.toml`. Talks to Referee over HTTP only."""
