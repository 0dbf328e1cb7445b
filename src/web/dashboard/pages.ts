/** The pages shown before the dashboard: the login form and the refusal. Pure builders. */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function shell(title: string, assets: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)} · edge-imprint</title>`,
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="${assets}/style.css">`,
    `</head><body class="gate"><main class="gate-box">${body}</main></body></html>`,
  ].join('\n');
}

/** The login form: a plain form post (no script), relative so it works under any prefix. */
export function loginPage(opts: { assets: string; error?: string; canLogIn: boolean }): string {
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  const form = opts.canLogIn
    ? '<form method="post" action="login"><label>Password <input type="password" name="password" autocomplete="current-password" required autofocus></label>' +
      '<button type="submit">Log in</button></form>'
    : '<p>This agent takes bearer tokens only (http.auth.token); set http.auth.password to log in here.</p>';
  return shell('Log in', opts.assets, `<h1>edge-imprint</h1>${error}${form}`);
}

/**
 * Bound beyond loopback with no password: nothing is served but this, which says how to
 * set one (the Docker image binds 0.0.0.0).
 */
export function refusedPage(opts: { assets: string }): string {
  return shell(
    'Set a password',
    opts.assets,
    [
      '<h1>edge-imprint: set a password</h1>',
      '<p>The dashboard is reachable from the network here (<code>http.host</code> is not 127.0.0.1), so it needs a login, and none is set.</p>',
      '<p>Set one and restart the agent, in any of these ways:</p>',
      '<ul>',
      '<li>the environment: <code>EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE=/run/secrets/dashboard_password</code> (a Docker secret), or <code>EDGE_IMPRINT_HTTP_AUTH_PASSWORD=…</code></li>',
      '<li>config/config.yaml: <code>http: { auth: { password_file: /path/to/file } }</code></li>',
      '<li>or bind to this machine only: <code>http.host: 127.0.0.1</code> (no login needed there)</li>',
      '</ul>',
      '<p>At least 8 characters. <code>/health</code> keeps answering meanwhile.</p>',
    ].join('\n'),
  );
}
