import { GuestAccess } from '@hvsim/platform';
import { describeMmuContract } from '@hvsim/test-utils';
import { platforms } from './platforms.test-helper.js';

/*
 * The MMU contract of @hvsim/test-utils against every strategy a guest can run on: bare metal (the
 * one-stage walk), nested paging on AMD NPT and Intel EPT, and shadow paging under SVM and VMX, each
 * without caches (every access walks) and with a TLB and walk caches (where INVLPG and MOV to CR3
 * must drop what the caches hold).
 */

for (const withCaches of [false, true]) {
  for (const { name } of platforms(withCaches)) {
    describeMmuContract({
      name: `${name}, ${withCaches ? 'with TLB and walk caches' : 'uncached'}`,
      make: () => {
        const platform = platforms(withCaches).find((p) => p.name === name)!;
        return { cpu: platform.cpu, out: new GuestAccess() };
      },
    });
  }
}
