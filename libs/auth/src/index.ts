export * from './claims';
export * from './jwks';
export * from './verify';
