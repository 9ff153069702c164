/** Body of a 200 answer: the value is a decimal string because it outgrows any JSON number. */
export class FibResultDto {
  n!: number;
  value!: string;
}
