"""Stage 2: teacher embeddings, sampling and reduction, distillation, evaluation (torch)."""
