"""The sparse training methods, one module each; `pruning/api.py` registers them."""
