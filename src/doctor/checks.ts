import { httpToken, envFile, nonRoot, socketFile } from './access-checks';
import { codeCaches } from './code-caches';
import type { DoctorContext } from './context';
import type { Check } from './result';
import { defaultTimeout, logging, maxSessions, runtimeFiles } from './settings-checks';
import { daemon, unitHardening, unitNotifyAccess, unitUmask } from './unit-checks';
import { userDaemon, userNotRoot, userSocket, userUnit, userUnitHardening } from './user-checks';
import type { UserDoctorContext } from './user-instance';

/** Every check, in report order. */
export const CHECKS: Check<DoctorContext>[] = [nonRoot, envFile, socketFile, httpToken, logging, maxSessions, defaultTimeout, runtimeFiles, unitNotifyAccess, unitUmask, unitHardening, codeCaches, daemon];

/** `trl doctor --user`, in report order: the shared checks where they apply as they are, the user instance's own otherwise. */
export const USER_CHECKS: Check<UserDoctorContext>[] = [
  userNotRoot,
  userUnit,
  envFile,
  userSocket,
  httpToken,
  logging,
  maxSessions,
  defaultTimeout,
  runtimeFiles,
  unitNotifyAccess,
  unitUmask,
  userUnitHardening,
  codeCaches,
  userDaemon,
];
