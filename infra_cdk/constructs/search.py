"""OpenSearch Serverless VECTORSEARCH collection for runbooks and incident precedents (optional).

Without it (`enable_opensearch=false`) the functions use the in-process vector index. Access is
IAM-authenticated (SigV4): the data access policy names exactly the function roles that read or
write the index, and those roles also get `aoss:APIAccessAll` on this one collection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

from infra_cdk.config import DeploymentConfig

READ_PERMISSIONS = ["aoss:DescribeIndex", "aoss:ReadDocument"]
WRITE_PERMISSIONS = [*READ_PERMISSIONS, "aoss:CreateIndex", "aoss:UpdateIndex", "aoss:WriteDocument"]


class VectorSearch(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeploymentConfig, key: kms.IKey,
                 readers: Sequence[iam.IRole], writers: Sequence[iam.IRole]) -> None:
        super().__init__(scope, construct_id)
        name = config.prefix  # collection and policy names: <= 32 lowercase characters
        stack = Stack.of(self)
        collection_resource = [f"collection/{name}"]
        index_resource = [f"index/{name}/*"]

        encryption = aoss.CfnSecurityPolicy(
            self, "EncryptionPolicy",
            name=f"{name}-enc",
            type="encryption",
            description="Encrypt the SRE Copilot collection with the stack's customer-managed key",
            policy=stack.to_json_string({
                "Rules": [{"ResourceType": "collection", "Resource": collection_resource}],
                "AWSOwnedKey": False,
                "KmsARN": key.key_arn,
            }),
        )
        # Lambda functions run outside a VPC, so the endpoint is public; every request is still SigV4-signed
        # and authorised by the data access policy below. Dashboards stay closed.
        network = aoss.CfnSecurityPolicy(
            self, "NetworkPolicy",
            name=f"{name}-net",
            type="network",
            description="Collection API reachable by the SRE Copilot functions (IAM-authenticated)",
            policy=json.dumps([{
                "Rules": [{"ResourceType": "collection", "Resource": collection_resource}],
                "AllowFromPublic": True,
            }]),
        )
        self.collection = aoss.CfnCollection(
            self, "Collection",
            name=name,
            type="VECTORSEARCH",
            description="Runbook and incident-precedent embeddings",
            standby_replicas="ENABLED",
        )
        self.collection.node.add_dependency(encryption)
        self.collection.node.add_dependency(network)

        access = aoss.CfnAccessPolicy(
            self, "DataAccessPolicy",
            name=f"{name}-data",
            type="data",
            description="Index read for evidence; write for runbooks and precedents",
            policy=stack.to_json_string([
                {"Rules": [{"ResourceType": "index", "Resource": index_resource, "Permission": READ_PERMISSIONS},
                           {"ResourceType": "collection", "Resource": collection_resource,
                            "Permission": ["aoss:DescribeCollectionItems"]}],
                 "Principal": [role.role_arn for role in readers]},
                {"Rules": [{"ResourceType": "index", "Resource": index_resource, "Permission": WRITE_PERMISSIONS},
                           {"ResourceType": "collection", "Resource": collection_resource,
                            "Permission": ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems",
                                           "aoss:UpdateCollectionItems"]}],
                 "Principal": [role.role_arn for role in writers]},
            ]),
        )
        access.node.add_dependency(self.collection)
        for role in (*readers, *writers):
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["aoss:APIAccessAll"], resources=[self.collection.attr_arn]))

    @property
    def endpoint(self) -> str:
        return self.collection.attr_collection_endpoint
