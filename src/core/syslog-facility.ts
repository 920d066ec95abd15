/** RFC 5424 §6.2.1 facility numbers, by the names syslog.conf uses, for `log.syslog.facility`. */
export const SYSLOG_FACILITIES = {
  user: 1, daemon: 3, auth: 4, authpriv: 10, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;

export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;
