"""JSON shapes of accounts, repositories, apps and installations, as GitHub's REST API gives them."""

from __future__ import annotations

from typing import Any

from .state import AppRecord, Installation, Repo, State, User, iso, node_id

# What an app registered without explicit permissions may do: everything the bot needs.
ALL_PERMISSIONS = {
    "actions": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pages": "write",
    "pull_requests": "write",
    "statuses": "write",
}


def app_permissions(app: AppRecord) -> dict[str, str]:
    """The permissions an app holds (all of them when it was registered without a list)."""
    perms = dict(ALL_PERMISSIONS if app.permissions is None else app.permissions)
    perms.setdefault("metadata", "read")
    return perms


def user_json(state: State, user: User) -> dict[str, Any]:
    """A `simple-user`."""
    api = f"{state.api_url}/users/{user.login}"
    if user.type == "Bot" and user.login.endswith("[bot]"):
        html = f"{state.html_url}/apps/{user.login[: -len('[bot]')]}"
    else:
        html = f"{state.html_url}/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("User", user.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def org_json(state: State, org: User) -> dict[str, Any]:
    """An `organization-simple`, as webhooks carry it for organization-owned repositories."""
    api = f"{state.api_url}/orgs/{org.login}"
    return {
        "login": org.login,
        "id": org.id,
        "node_id": node_id("Organization", org.id),
        "url": api,
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks",
        "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org.id}?v=4",
        "description": None,
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repo_json(state: State, repo: Repo, open_issues: int = 0) -> dict[str, Any]:
    """A `full-repository` (a superset of what webhooks and pull requests embed)."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    html = f"{state.html_url}/{repo.full_name}"
    body: dict[str, Any] = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": user_json(state, repo.owner),
        "html_url": html,
        "description": repo.description,
        "fork": repo.fork_of is not None,
        "url": api,
    }
    body.update({key: api + suffix for key, suffix in _REPO_URLS.items()})
    body.update(
        {
            "git_url": f"git://github.test/{repo.full_name}.git",
            "ssh_url": f"git@github.test:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "forks_count": 0,
            "forks": 0,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "network_count": 0,
            "subscribers_count": 0,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": repo.id in state.pages,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "is_template": False,
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "visibility": "private" if repo.private else "public",
            "topics": [],
            "license": None,
            "default_branch": repo.default_branch,
            "pushed_at": iso(repo.pushed_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.updated_at),
        }
    )
    return body


def app_json(state: State, app: AppRecord) -> dict[str, Any]:
    """An `integration` (GitHub App)."""
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("Integration", app.id),
        "client_id": app.client_id,
        "owner": user_json(state, app.owner),
        "name": app.name,
        "description": app.description,
        "external_url": f"{state.html_url}/apps/{app.slug}",
        "html_url": f"{state.html_url}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": app_permissions(app),
        "events": list(app.events),
        "installations_count": sum(1 for i in state.installations.values() if i.app_id == app.id),
    }


def installation_json(state: State, inst: Installation) -> dict[str, Any]:
    """An `installation`."""
    app = state.apps[inst.app_id]
    api = state.api_url
    html_kind = "organizations" if inst.account.type == "Organization" else "users"
    # The description's list of installations wants the account as user and enterprise at once.
    account = user_json(state, inst.account)
    account.update(
        {
            "name": inst.account.name or inst.account.login,
            "slug": inst.account.login.lower(),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
        }
    )
    return {
        "id": inst.id,
        "client_id": app.client_id,
        "account": account,
        "repository_selection": inst.repository_selection,
        "access_tokens_url": f"{api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{api}/installation/repositories",
        "html_url": f"{state.html_url}/{html_kind}/{inst.account.login}/settings/installations/{inst.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": inst.account.id,
        "target_type": inst.account.type,
        "permissions": app_permissions(app),
        "events": list(app.events),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.updated_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": user_json(state, inst.suspended_by) if inst.suspended_by else None,
        "suspended_at": iso(inst.suspended_at),
    }


def repo_brief(state: State, repo: Repo) -> dict[str, Any]:
    """The short repository form in installation webhooks."""
    return {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


def author_association(state: State, repo: Repo, user: User) -> str:
    """How `user` relates to `repo`: OWNER, MEMBER, COLLABORATOR or NONE."""
    if user.id == repo.owner.id:
        return "OWNER"
    role = repo.roles.get(user.login.lower(), "none")
    if role == "none":
        return "NONE"
    if repo.owner.type == "Organization" and role in ("admin", "maintain"):
        return "MEMBER"
    return "COLLABORATOR"
