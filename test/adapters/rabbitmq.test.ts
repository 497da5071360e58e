import { defineContractSuite } from './contract.ts';

defineContractSuite('rabbitmq');
