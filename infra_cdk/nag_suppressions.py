"""Every cdk-nag acknowledgement of the app and its reason, in one place.

cdk-nag v3 acknowledges findings through CDK's `Validations.of(construct).acknowledge(...)`; each
finding id must match exactly (`AwsSolutions-IAM5[Resource::<Table.Arn>/index/*]`), and ids of
resource findings embed logical ids. So an acknowledgement here is a pattern: the rule id (with its
finding) and the construct paths (below the stack) it may apply to, both full-match regexes.
`acknowledge` runs the AwsSolutions pack once over the stack and acknowledges, on the violating
resource itself, each finding exactly one pattern matches. Anything unmatched stays a violation
and fails synthesis; a finding two patterns match is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from infra_cdk.constructs.functions import FUNCTIONS, FunctionSpec, construct_id_for
from infra_cdk.constructs.storage import (
    BASELINES_PREFIX,
    CATALOG_PREFIX,
    INCIDENTS_PREFIX,
    POSTMORTEMS_PREFIX,
    RAW_PREFIX,
    REVIEW_PREFIX,
    SNAPSHOTS_PREFIX,
)


def _functions(where: Callable[[FunctionSpec], bool]) -> str:
    """Regex alternation of the function construct ids whose spec satisfies `where`."""
    return "|".join(construct_id_for(name) for name, spec in FUNCTIONS.items() if where(spec)) or "(?!)"


ANY_FUNCTION = "|".join(construct_id_for(name) for name in FUNCTIONS)
FUNCTION_POLICY = r"Functions/({names})/Role/DefaultPolicy/Resource"
BUCKET_PREFIXES = "|".join(p.rstrip("/") for p in (CATALOG_PREFIX, INCIDENTS_PREFIX, POSTMORTEMS_PREFIX, RAW_PREFIX,
                                                   REVIEW_PREFIX, SNAPSHOTS_PREFIX, BASELINES_PREFIX))


@dataclass(frozen=True)
class Acknowledgement:
    rule: str
    """Full-match regex over the rule id including its finding, e.g. `AwsSolutions-IAM5\\[Resource::\\*\\]`."""
    paths: str
    """Full-match regex over the violating resource's construct path, relative to the stack."""
    reason: str

    def matches(self, rule_id: str, path: str) -> bool:
        return re.fullmatch(self.rule, rule_id) is not None and re.fullmatch(self.paths, path) is not None


ACKNOWLEDGEMENTS: tuple[Acknowledgement, ...] = (
    Acknowledgement(
        rule=r"AwsSolutions-SF1",
        paths=r"(Workflow|Paging)/StateMachine/Resource",
        reason="The incident and paging workflows are STANDARD: Step Functions keeps every event of their "
               "history (90 days, the console) and the daily audit export copies it to the Object Lock "
               "bucket. Their log groups get failures with their data (workflow_log_level, default ERROR); "
               "ALL would log every state's input and output a third time (docs/cost.md).",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[(Action::(kms:GenerateDataKey\*|kms:ReEncrypt\*|s3:Abort\*|s3:DeleteObject\*"
             r"|s3:GetBucket\*|s3:GetObject\*|s3:List\*)|Resource::<StorageArtifacts[0-9A-F]+\.Arn>/\*)\]",
        paths=r"RawArchive/Stream/(Service Role|S3 Destination Role)/DefaultPolicy/Resource",
        reason="The raw-archive Firehose stream's roles, as the aws_kinesisfirehose L2 grants them: its "
               "S3 destination writes (and on a failed delivery cleans up multipart uploads in) the "
               "artifact bucket, whose object names Firehose chooses under raw/; the KMS actions are "
               "on the deployment's one key, for the stream's and the bucket's encryption.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-L1",
        paths=rf"Functions/({ANY_FUNCTION})/Function/Resource",
        reason="Functions run python3.13 on purpose: the shared layer's compiled wheels (pydantic-core, "
               "cryptography, jiter) are built for CPython 3.13, the version the team's toolchain and CI "
               "run; the runtime is supported by Lambda and is upgraded together with the layer.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::\*\]",
        paths=rf"Functions/({ANY_FUNCTION})/Function/inlinePolicyAddedToExecutionRole-\d+/Resource",
        reason="Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
               "support no resource-level permissions; CDK adds exactly those two actions.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::\*\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.answers_task_tokens and not s.reads_metrics)),
        reason="states:SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat accept only '*' as resource; the "
               "task token in each call identifies the single waiting execution it may answer.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::\*\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.reads_metrics and not s.answers_task_tokens)),
        reason="cloudwatch:GetMetricData/GetMetricStatistics/ListMetrics have no resource-level permissions; "
               "the context and verification steps read metrics of whichever service the incident is about.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::\*\]",
        paths=r"(Workflow|Paging)/(Analysis)?Role/DefaultPolicy/Resource",
        reason="The state machine's X-Ray tracing (xray:PutTraceSegments etc.) and CloudWatch Logs delivery "
               "(logs:CreateLogDelivery etc.) APIs support no resource-level permissions.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Action::kms:(GenerateDataKey|ReEncrypt)\*\]",
        paths=FUNCTION_POLICY.format(names=ANY_FUNCTION),
        reason="CDK's grants for the KMS-encrypted table and queues allow the GenerateDataKey*/ReEncrypt* "
               "variants, and only on the stack's single customer-managed key (resource is that key's ARN).",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
             r"[A-Za-z0-9_-]+:\*\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.starts_workflow)),
        reason="Resolution describes the incident's own execution (named by the incident id) to know whether it "
               "still runs; the wildcard covers only executions of the one incident state machine.",
    ),
    Acknowledgement(
        rule=rf"AwsSolutions-IAM5\[Resource::<StorageArtifacts[0-9A-F]{{8}}\.Arn>/({BUCKET_PREFIXES})/\*\]",
        paths=FUNCTION_POLICY.format(names=ANY_FUNCTION),
        reason="Object access is scoped to one key prefix of the artifact bucket (catalog, raw, review, "
               "incidents, postmortems), with per-function prefixes from the access matrix; object keys "
               "below a prefix are generated per tenant and incident.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:bedrock:(\*::foundation-model/anthropic\.\*"
             r"|<AWS::Region>:<AWS::AccountId>:inference-profile/\*)\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.llm)),
        reason="With llm_provider=bedrock the hypothesis step may call any Anthropic model version, directly "
               "or through a cross-region inference profile, whose regions are chosen by Bedrock.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:\*\]",
        paths=FUNCTION_POLICY.format(names="CheckRecovery"),
        reason="Verification by recovery reads the states of the alarms an incident's plan names, which are "
               "whatever alarms fired; DescribeAlarms is scoped to alarms of this account and region.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::<AuditExport[0-9A-F]{8}\.Arn>/(audit|executions)/\*\]",
        paths=FUNCTION_POLICY.format(names="AuditExport"),
        reason="The daily export writes one object per day and per execution below the audit/ and "
               "executions/ prefixes of the Object Lock bucket; it can neither delete nor shorten a lock.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
             r"execution:sre-copilot-[a-z0-9-]+-incident:\*\]",
        paths=FUNCTION_POLICY.format(names="AuditExport"),
        reason="GetExecutionHistory of the incident state machine's executions, whose names are incident ids.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::\*\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.executes_actions and not s.reads_metrics)),
        reason="Only the executor calls AWS scopes to no resource: ecs:ListTaskDefinitions, "
               "autoscaling:DescribeAutoScalingGroups and, in a VPC, the EC2 network-interface calls Lambda "
               "makes with the role (infra_cdk/constructs/executors.py UNSCOPED_ACTIONS, checked by a test).",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:"
             r"autoScalingGroup:\*:autoScalingGroupName/[^*\]]+\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.executes_actions)),
        reason="An Auto Scaling group ARN embeds a UUID assigned at creation; the group itself is named "
               "exactly, from executor_resources.autoscaling_groups.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
             r"(automation-definition/[^*:\]]+:\*|automation-execution/\*)\]",
        paths=FUNCTION_POLICY.format(names=_functions(lambda s: s.executes_actions)),
        reason="StartAutomationExecution names the runbook's versions (automation-definition/<name>:<version>) "
               "of the runbooks in executor_resources; GetAutomationExecution reads the execution the "
               "executor started, whose id SSM assigns.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-SQS3",
        paths=r"Queues/(Review|AsyncFailuresDlq|WorkflowDlq)/Resource",
        reason="These queues are terminal: the review queue and the async/workflow DLQs are drained by "
               "operators, alarm on depth, and a dead-letter queue behind them would only hide messages.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-SMG4",
        paths=r"Secrets/(Slack|Twilio|Pagerduty|Llm|Webhook)/Resource",
        reason="These hold third-party credentials (Slack, Twilio, PagerDuty, LLM API keys, webhook shared "
               "secrets) that only the providers can issue; rotation is a manual runbook step. PagerDuty "
               "accepts a list of webhook secrets so a rotation needs no downtime.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-APIG4",
        paths=r"HttpApi/Api/POST--(webhooks--[a-z-]+|changes|callbacks--slack--interactions"
              r"|callbacks--slack--commands|callbacks--twilio--voice)/Resource",
        reason="Each route authenticates in the function: PagerDuty/Grafana HMAC, SNS signatures, bearer or "
               "basic auth, Slack signing secret, Twilio signature. Those cover the body, which an HTTP API "
               "authorizer cannot see, and the senders cannot obtain IAM or JWT credentials.",
    ),
    Acknowledgement(
        rule=r"AwsSolutions-COG8",
        paths=r"ReadApi/Users/Resource",
        reason="The read API's pool has no self sign-up, requires TOTP MFA and a 12-character password; the Plus "
               "feature plan's threat protection is billed per monthly active user, so it is the operator's "
               "choice (or an own OIDC issuer through api_jwt_issuer).",
    ),
)


@dataclass(frozen=True)
class Applied:
    rule_id: str
    path: str
    acknowledgement: Acknowledgement


def acknowledge(stack: Stack) -> list[Applied]:
    """Acknowledge the stack's findings that match `ACKNOWLEDGEMENTS`; return what was applied."""
    report = AwsSolutionsChecks().validate_scope(stack)
    constructs = {construct.node.path: construct for construct in stack.node.find_all()}
    prefix = f"{stack.node.path}/"
    applied: list[Applied] = []
    for violation in report.violations:
        for resource in violation.violating_resources:
            path = resource.construct_path or ""
            relative = path.removeprefix(prefix)
            matches = [ack for ack in ACKNOWLEDGEMENTS if ack.matches(violation.rule_name, relative)]
            if len(matches) > 1:
                raise ValueError(f"{violation.rule_name} on {relative} matches {len(matches)} acknowledgements in "
                                 "infra_cdk/nag_suppressions.py; make their paths disjoint")
            if not matches:
                continue  # left for cdk-nag to report: synthesis fails with its explanation
            Validations.of(constructs[path]).acknowledge(
                Acknowledgment(id=violation.rule_name, reason=matches[0].reason))
            applied.append(Applied(violation.rule_name, relative, matches[0]))
    return applied
