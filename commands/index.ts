/** Every command SiteFlow serves, declared once each in this folder. */
import audit from './audit.js';
import cancel from './cancel.js';
import confirm from './confirm.js';
import help from './help.js';
import logs from './logs.js';
import pull from './pull.js';
import restart from './restart.js';
import status from './status.js';

export const commands = [help, status, restart, pull, logs, cancel, confirm, audit];
