"""Stage 1: turn recordings, public datasets and synthesized scenes into clip stores."""
