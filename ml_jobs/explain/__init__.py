"""What a trained model's card says beyond its metrics: SHAP explanations, a data profile, per-segment
metrics and a model risk score, computed once at training time and logged to the training run."""
