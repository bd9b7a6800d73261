export * from './events';
export * from './requests';
export * from './imports';
export * from './lifecycle';
