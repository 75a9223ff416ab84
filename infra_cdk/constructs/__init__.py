"""One construct per capability; `infra_cdk.stack` composes them and wires the grants."""
