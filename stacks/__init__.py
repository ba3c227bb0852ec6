"""The CDKTF app: one stack per environment, built from the validated config in this folder."""
