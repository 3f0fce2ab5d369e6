/** The real-VM suite (scripts/test-vm.sh runs it inside the network namespace). */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/vm/**/*.vm.ts'],
  testTimeout: 600000,
};
