"""Baselines, anomaly detection and capacity forecasts over CloudWatch metrics (pure Python)."""
