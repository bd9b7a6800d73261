import type { EntityManager } from '@imm/db';
import { SigningKey } from './entities';

const DEV_KEY_ID = 1;

export function signingKeyRepository(em: EntityManager) {
  return {
    /**
     * The stored DEV key, or `candidate` stored as it when there is none. Insert-if-absent, then
     * read: processes starting together all end up with whichever key was stored first.
     */
    async findOrStore(candidate: { kid: string; privateKeyPem: string }): Promise<string> {
      await em
        .createQueryBuilder(SigningKey)
        .insert({ id: DEV_KEY_ID, kid: candidate.kid, privateKey: candidate.privateKeyPem, createdAt: new Date() })
        .onConflict('id')
        .ignore()
        .execute('run');
      const stored = await em.findOneOrFail(SigningKey, { id: DEV_KEY_ID }, { disableIdentityMap: true });
      return stored.privateKey;
    },
  };
}
