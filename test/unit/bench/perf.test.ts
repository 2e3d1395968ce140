import { summarizePerfScript } from '../../bench/perf';

// Three walsender samples (in the kernel under send(), in recv(), in its own code) and one relay
// sample in the kernel under write(), as `perf script -F pid,ip,sym,dso` prints them.
const script = `101 
\t    ffffffff8100 tcp_sendmsg ([kernel.kallsyms])
\t    ffffffff8200 __sys_sendto ([kernel.kallsyms])
\t          123456 __send (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          55c8fb pq_flush_if_writable (/usr/lib/postgresql/15/bin/postgres)

101 
\t          123999 __libc_recv (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          55c8aa pq_getbyte_if_available (/usr/lib/postgresql/15/bin/postgres)

101 
\t          55c8bb hash_search_with_hash_value (/usr/lib/postgresql/15/bin/postgres)

202 
\t    ffffffff8300 ksys_write ([kernel.kallsyms])
\t          124000 __GI___libc_write (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t          777777 uv__write (/usr/bin/node)
`;

describe('summarizePerfScript', () => {
  it('counts each process its samples, those in the kernel and those under each data call', () => {
    expect(summarizePerfScript(script, { walsender: 101, relay: 202, broker: 303 })).toEqual([
      'walsender (pid 101): 3 samples, 33% in the kernel; under send() 33%, recv() 33%, write() 0%, read() 0%',
      'relay (pid 202): 1 samples, 100% in the kernel; under send() 0%, recv() 0%, write() 100%, read() 0%',
      'broker (pid 303): no samples',
    ]);
  });
});
