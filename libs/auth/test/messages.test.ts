import { catalogProblems, hasMessage, translate } from '@imm/web';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, tokenMessages } from '../src/index';

describe("the token verifier's messages", () => {
  it('has an English and a Korean text for every key', () => {
    expect(Object.keys(tokenMessages.en).sort()).toEqual([
      'token_expired',
      'token_invalid',
      'token_not_access',
      'token_revoked',
    ]);
    expect(catalogProblems(tokenMessages)).toEqual([]);
  });

  it('are registered by creating a verifier, so every process that verifies answers them in words', async () => {
    expect(hasMessage('token_invalid')).toBe(false);
    const verifier = createTokenVerifier({ getKey: async () => undefined });
    const refusal = await verifier.verifyAccess('not-a-token').catch((error: { detail: { key: string } }) => error);
    expect(refusal).toMatchObject({ detail: { key: 'token_invalid' } });
    expect(translate({ key: 'token_invalid' }, 'en')).toBe('Given token not valid for any token type');
    expect(translate({ key: 'token_revoked' }, 'ko')).toBe('블랙리스트에 추가된 토큰입니다');
  });
});
