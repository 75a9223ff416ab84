"""The CDK app that deploys SRE Copilot (see `infra_cdk.app`)."""
