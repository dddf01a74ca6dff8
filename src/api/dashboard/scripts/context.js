// Who is signed in, their teams (with role) and projects, and the project and team the
// person is looking at. The role decides which buttons a page shows; the API enforces it
// anyway.

const PROJECT_KEY = 'shipstar.project';
const TEAM_KEY = 'shipstar.team';

const ctx = { me: null, teams: [], projects: [] };

async function loadContext() {
  const [me, teams, projects] = await Promise.all([
    api('GET', '/api/internal/users/me'),
    api('GET', '/api/internal/teams'),
    api('GET', '/api/internal/projects'),
  ]);
  ctx.me = me;
  ctx.teams = teams;
  ctx.projects = projects;
}

async function reloadTeamsAndProjects() {
  const [teams, projects] = await Promise.all([
    api('GET', '/api/internal/teams'),
    api('GET', '/api/internal/projects'),
  ]);
  ctx.teams = teams;
  ctx.projects = projects;
}

/** The caller's role in a team: superusers act as owners everywhere. */
function teamRole(teamId) {
  if (ctx.me && ctx.me.is_superuser) return 'owner';
  const team = ctx.teams.find((t) => t.id === teamId);
  return team ? team.role : null;
}

function projectRole(projectId) {
  const project = ctx.projects.find((p) => p.id === projectId);
  return project ? teamRole(project.team_id) : null;
}

function canManage(role) {
  return role === 'owner' || role === 'admin';
}

function remembered(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // Storage disabled: the choice lasts until the next page load.
  }
}

/** The project to show: the one asked for, else the last one used, else the first. */
function currentProject(wanted) {
  const pick =
    ctx.projects.find((p) => p.id === wanted) ||
    ctx.projects.find((p) => p.id === remembered(PROJECT_KEY)) ||
    ctx.projects[0] ||
    null;
  if (pick) remember(PROJECT_KEY, pick.id);
  return pick;
}

function currentTeam(wanted) {
  const pick =
    ctx.teams.find((t) => t.id === wanted) ||
    ctx.teams.find((t) => t.id === remembered(TEAM_KEY)) ||
    ctx.teams[0] ||
    null;
  if (pick) remember(TEAM_KEY, pick.id);
  return pick;
}

function teamName(teamId) {
  const team = ctx.teams.find((t) => t.id === teamId);
  return team ? team.name : 'Other team';
}

/**
 * A labelled project select, grouped by team when there are several; `onChange(id)` runs when
 * the choice is applied with its Show button (not on each arrow key).
 */
function projectPicker(selected, onChange) {
  const teamIds = [...new Set(ctx.projects.map((p) => p.team_id))];
  const option = (p) => h('option', { value: p.id }, p.name);
  const options =
    teamIds.length > 1
      ? teamIds.map((teamId) =>
          h('optgroup', { label: teamName(teamId) }, ctx.projects.filter((p) => p.team_id === teamId).map(option)),
        )
      : ctx.projects.map(option);
  return confirmSelect({
    id: uid('project-picker'),
    label: 'Project',
    name: 'project',
    options,
    value: selected ? selected.id : '',
    applyLabel: 'Show',
    applyAttrs: { 'data-picker-apply': 'project' },
    onApply: onChange,
  }).wrap;
}

/** A labelled team select, applied with its Show button like `projectPicker`. */
function teamPicker(selected, onChange) {
  return confirmSelect({
    id: uid('team-picker'),
    label: 'Team',
    name: 'team',
    options: ctx.teams.map((t) => h('option', { value: t.id }, t.name)),
    value: selected ? selected.id : '',
    applyLabel: 'Show',
    applyAttrs: { 'data-picker-apply': 'team' },
    onApply: onChange,
  }).wrap;
}
