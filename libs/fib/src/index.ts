export { fib } from './fib';
