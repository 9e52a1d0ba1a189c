/** Every command SiteFlow serves, declared once each in this folder. */
import ack from './ack.js';
import alerts from './alerts.js';
import audit from './audit.js';
import backup from './backup.js';
import cancel from './cancel.js';
import confirm from './confirm.js';
import deprovision from './deprovision.js';
import help from './help.js';
import logs from './logs.js';
import maintenance from './maintenance.js';
import provision from './provision.js';
import prune from './prune.js';
import pull from './pull.js';
import restart from './restart.js';
import schedule from './schedule.js';
import silence from './silence.js';
import silences from './silences.js';
import start from './start.js';
import stats from './stats.js';
import status from './status.js';
import stop from './stop.js';
import templates from './templates.js';
import unsilence from './unsilence.js';
import up from './up.js';
import updates from './updates.js';

export const commands = [
  help,
  status,
  stats,
  restart,
  pull,
  start,
  stop,
  up,
  updates,
  logs,
  cancel,
  confirm,
  audit,
  templates,
  provision,
  deprovision,
  backup,
  prune,
  silence,
  unsilence,
  silences,
  ack,
  alerts,
  maintenance,
  schedule,
];
