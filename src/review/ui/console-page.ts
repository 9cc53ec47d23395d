import { MESSAGES, type Language } from '../i18n';
import type { LoginPageState } from '../../identity';

/** Escapes text for HTML element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON for a `<script type="application/json">` block: `<` escaped so no `</script>` can end it early. */
function jsonBlock(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** The document's start, up to and including `<body>`. */
function head(lang: Language, title: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · revmod</title>
<link rel="stylesheet" href="/assets/console.css">
</head>
<body>`;
}

/** The console's single page: styles, the boot data block, and the script (no inline script: the CSP forbids it). */
export function renderConsolePage(lang: Language, boot: unknown): string {
  return `${head(lang, MESSAGES[lang]['app.title'])}
<script type="application/json" id="boot">${jsonBlock(boot)}</script>
<div id="app" class="app"></div>
<script src="/assets/console.js" defer></script>
</body>
</html>
`;
}

/** The sign-in form (works without script). */
export function renderLoginPage(lang: Language, state: LoginPageState): string {
  const m = MESSAGES[lang];
  const other: Language = lang === 'zh-CN' ? 'en' : 'zh-CN';
  const error = state.error ? `<p class="error" role="alert">${escapeHtml(m[`login.error.${state.error}`])}</p>` : '';
  return `${head(lang, m['login.title'])}
<main class="login">
<form method="post" action="/login" autocomplete="on">
<h1>${escapeHtml(m['login.title'])}</h1>
${error}
<input type="hidden" name="_csrf" value="${escapeHtml(state.csrfToken)}">
<label>${escapeHtml(m['login.user'])}<input name="user" autocomplete="username" required autofocus value="${escapeHtml(state.user ?? '')}"></label>
<label>${escapeHtml(m['login.password'])}<input name="password" type="password" autocomplete="current-password" required></label>
<button class="submit" type="submit">${escapeHtml(m['login.submit'])}</button>
<a href="/lang?to=${other}&amp;back=%2Flogin" hreflang="${other}">${escapeHtml(m['lang.switch'])}</a>
</form>
</main>
</body>
</html>
`;
}
