/**
 * What the audit's own delivery tells the operator about itself (a collector gone and back, a
 * file it cannot write and can again): changes of state, never one line per retry. serve.ts puts
 * each in the audit as a line of the gateway's own, at its level.
 */
export interface AuditNotice {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}
