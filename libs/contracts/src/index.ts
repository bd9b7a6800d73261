export * from './events';
export * from './requests';
export * from './imports';
export * from './lifecycle';
export * from './pages';
