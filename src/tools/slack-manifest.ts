/**
 * `npm run slack:manifest [-- --yaml] [-- --url https://host/slack/events]`: prints the
 * Slack app manifest for the configured SLACK_COMMANDS, Socket Mode and permissions.
 */
import { stringify } from 'yaml';
import { commands } from '../../commands/index.js';
import { slackManifest } from '../chat/slack/manifest.js';
import { ConfigError, loadConfig } from '../config.js';

const args = process.argv.slice(2);
const urlAt = args.indexOf('--url');
const requestUrl = urlAt >= 0 ? args[urlAt + 1] : undefined;
if (urlAt >= 0 && !requestUrl?.startsWith('https://')) {
  process.stderr.write('--url expects the public https:// URL of /slack/events\n');
  process.exit(2);
}
try {
  const config = loadConfig();
  const manifest = slackManifest({
    commands,
    mode: config.SLACK_COMMANDS,
    socketMode: config.SLACK_APP_TOKEN !== '',
    userGroups: [...config.ADMINS, ...config.OPERATORS].some((p) => p.startsWith('slack:group:')),
    ...(requestUrl ? { requestUrl } : {}),
  });
  process.stdout.write(
    args.includes('--yaml') ? stringify(manifest) : `${JSON.stringify(manifest, null, 2)}\n`,
  );
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
