import { defineMessages } from '@imm/web/messages';

/**
 * The texts of the token verifier's refusals, in simplejwt's wording, so old clients see the same.
 * Every process that verifies tokens has them: creating a verifier registers them.
 */
export const tokenMessages = defineMessages({
  en: {
    token_invalid: 'Given token not valid for any token type',
    token_not_access: 'Token has wrong type',
    token_expired: 'Token is invalid or expired',
    token_revoked: 'Token is blacklisted',
  },
  ko: {
    token_invalid: '이 토큰은 모든 타입의 토큰에 대해 유효하지 않습니다',
    token_not_access: '토큰의 타입이 잘못되었습니다',
    token_expired: '유효하지 않거나 만료된 토큰입니다',
    token_revoked: '블랙리스트에 추가된 토큰입니다',
  },
});
