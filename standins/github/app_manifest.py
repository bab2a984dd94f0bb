"""What GitHub accepts in an app manifest: permission names and levels, webhook events.

Copied from GitHub's REST description (npm `@octokit/openapi`, `api.github.com.json`): the
`app-permissions` schema, and the `X-GitHub-Event` names of the webhooks whose
`supported-webhook-types` include `app`. The stand-in runs without that package installed;
`tests/test_manifest.py` checks that these lists still match it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

DOCS = "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"

APP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "actions": ("read", "write"),
    "administration": ("read", "write"),
    "artifact_metadata": ("read", "write"),
    "attestations": ("read", "write"),
    "checks": ("read", "write"),
    "code_quality": ("read", "write"),
    "codespaces": ("read", "write"),
    "contents": ("read", "write"),
    "dependabot_secrets": ("read", "write"),
    "deployments": ("read", "write"),
    "discussions": ("read", "write"),
    "environments": ("read", "write"),
    "issues": ("read", "write"),
    "merge_queues": ("read", "write"),
    "metadata": ("read", "write"),
    "packages": ("read", "write"),
    "pages": ("read", "write"),
    "pull_requests": ("read", "write"),
    "repository_custom_properties": ("read", "write"),
    "repository_hooks": ("read", "write"),
    "repository_projects": ("read", "write", "admin"),
    "secret_scanning_alerts": ("read", "write"),
    "secrets": ("read", "write"),
    "security_events": ("read", "write"),
    "single_file": ("read", "write"),
    "statuses": ("read", "write"),
    "vulnerability_alerts": ("read", "write"),
    "workflows": ("write",),
    "custom_properties_for_organizations": ("read", "write"),
    "members": ("read", "write"),
    "organization_administration": ("read", "write"),
    "organization_custom_roles": ("read", "write"),
    "organization_custom_org_roles": ("read", "write"),
    "organization_custom_properties": ("read", "write", "admin"),
    "organization_copilot_seat_management": ("read", "write"),
    "organization_copilot_agent_settings": ("read", "write"),
    "organization_announcement_banners": ("read", "write"),
    "organization_events": ("read",),
    "organization_hooks": ("read", "write"),
    "organization_personal_access_tokens": ("read", "write"),
    "organization_personal_access_token_requests": ("read", "write"),
    "organization_plan": ("read",),
    "organization_projects": ("read", "write", "admin"),
    "organization_packages": ("read", "write"),
    "organization_secrets": ("read", "write"),
    "organization_self_hosted_runners": ("read", "write"),
    "organization_user_blocking": ("read", "write"),
    "email_addresses": ("read", "write"),
    "followers": ("read", "write"),
    "git_ssh_keys": ("read", "write"),
    "gpg_keys": ("read", "write"),
    "interaction_limits": ("read", "write"),
    "profile": ("write",),
    "starring": ("read", "write"),
    "enterprise_custom_properties_for_organizations": ("read", "write", "admin"),
}
APP_EVENTS = frozenset(
    {
        "branch_protection_configuration",
        "branch_protection_rule",
        "check_run",
        "check_suite",
        "code_scanning_alert",
        "commit_comment",
        "create",
        "custom_property",
        "custom_property_values",
        "delete",
        "dependabot_alert",
        "deploy_key",
        "deployment",
        "deployment_protection_rule",
        "deployment_review",
        "deployment_status",
        "discussion",
        "discussion_comment",
        "discussions",
        "fork",
        "github_app_authorization",
        "gollum",
        "installation",
        "installation_repositories",
        "installation_target",
        "issue_comment",
        "issue_dependencies",
        "issues",
        "label",
        "member",
        "membership",
        "merge_group",
        "meta",
        "milestone",
        "org_block",
        "organization",
        "page_build",
        "personal_access_token_request",
        "ping",
        "project",
        "project_card",
        "project_column",
        "public",
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
        "push",
        "registry_package",
        "release",
        "repository",
        "repository_advisory",
        "repository_dispatch",
        "repository_ruleset",
        "secret_scanning_alert",
        "secret_scanning_alert_location",
        "secret_scanning_scan",
        "security_advisory",
        "security_and_analysis",
        "star",
        "status",
        "sub_issues",
        "team",
        "team_add",
        "watch",
        "workflow_dispatch",
        "workflow_job",
        "workflow_run",
    }
)


def _is_web_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def manifest_errors(manifest: Any) -> list[str]:
    """What GitHub would refuse in `manifest`, one sentence each ([] when it is valid)."""
    if not isinstance(manifest, dict):
        return ["Manifest must be a JSON object"]
    errors = []
    if not manifest.get("url"):
        errors.append("Url can't be blank")
    elif not _is_web_url(manifest["url"]):
        errors.append("Url must be a valid http or https URL")
    hook = manifest.get("hook_attributes")
    hook_url = hook.get("url") if isinstance(hook, dict) else None
    if not hook_url:
        errors.append("Hook url can't be blank")
    elif not _is_web_url(hook_url):
        errors.append("Hook url must be a valid http or https URL")
    permissions = manifest.get("default_permissions") or {}
    if not isinstance(permissions, dict):
        errors.append("Default permissions must be an object of permission: level")
        permissions = {}
    for name, level in permissions.items():
        levels = APP_PERMISSIONS.get(name)
        if levels is None:
            errors.append(f"Default permission {name} is not a permission GitHub Apps can request")
        elif not isinstance(level, str) or level not in levels:
            errors.append(
                f"Default permission {name} cannot be {level!r} (one of: {', '.join(levels)})"
            )
    events = manifest.get("default_events") or []
    if not isinstance(events, list):
        errors.append("Default events must be a list of event names")
        events = []
    for event in events:
        if not isinstance(event, str) or event not in APP_EVENTS:
            errors.append(f"Default event {event} is not a webhook event GitHub Apps receive")
    return errors
