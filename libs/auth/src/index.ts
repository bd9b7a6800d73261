export * from './claims';
export * from './jwks';
export * from './verify';
export * from './not-before';
export * from './messages';
export * from './service-verifier';
